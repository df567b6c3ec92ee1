"""What a speaker's estimate is worth, stated from measured validation figures, never from adjectives.

Probabilities are fractions in [0, 1]; `seconds_used` is seconds of speech the model heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


from forensic_s2f.numbers import probability_text
from forensic_s2f.report.validation import ValidationFigures
from forensic_s2f.s2f.dataset import AGE_BRACKETS, age_range

# Below these gains over always answering the commonest bracket (exact, within one), the report
# calls the age estimate a hint: the shipped model's are -1.4 and +5.0 points.
AGE_GAIN_EXACT, AGE_GAIN_WITHIN = 0.05, 0.10
# An outer bracket (<18, 60+) whose speakers fell inside the estimated range this much less often
# than all speakers did is named beside each estimate (the shipped model: 60+ 51.0 %, <18 0.0 %,
# against 90.7 % for all).
OUTER_BRACKET_GAP = 0.10


def percent(rate: float | None) -> str:
    """A rate as '96.9 %', or 'not measured'."""
    return "not measured" if rate is None else f"{100 * rate:.1f} %"


def most_probable(probabilities: dict[str, float]) -> tuple[str, float] | None:
    if not probabilities:
        return None
    label, p = max(probabilities.items(), key=lambda item: item[1])
    return label, float(p)


def probability_spread(prediction: dict[str, Any], attribute: str) -> dict[str, float] | None:
    """Per-class standard deviation of the probabilities across ensemble members, as
    prediction.json records it (`gender_member_spread`, `age_member_spread`); None if absent."""
    spread = prediction.get(f"{attribute}_member_spread")
    if isinstance(spread, dict) and spread:
        return {label: float(value) for label, value in spread.items()}
    return None


def estimated_age(prediction: dict[str, Any]) -> tuple[str, float] | None:
    """The model's age estimate (`age_estimate`, the rule its validation scored) and that bracket's
    own probability; the most probable bracket where an older prediction lacks an estimate."""
    ages = prediction.get("age", {})
    label = prediction.get("age_estimate")
    if label in ages:
        return label, float(ages[label])
    return most_probable(ages)


def age_estimate_text(prediction: dict[str, Any]) -> str:
    """'18-29 to 45-59 (0.91); most probable 30-44 (0.45)': where the prediction records it
    (`age_estimate_within_one`), the estimate as the bracket and its neighbours, as the within-one rule
    scores, with its probability, then the single most probable bracket; else the estimate and
    its own probability."""
    age = estimated_age(prediction)
    if age is None:
        return "-"
    within = prediction.get("age_estimate_within_one")
    if within is None:
        return f"{age[0]} ({probability_text(age[1])})"
    top = most_probable(prediction.get("age", {}))
    return (f"{age_range(age[0])} ({probability_text(float(within))}); "
            f"most probable {top[0]} ({probability_text(top[1])})")


def _outer_brackets(figures: ValidationFigures) -> str:
    """A sentence on the outer brackets whose speakers the range held less often than it held all
    speakers (a 60+ voice given a range that stops at 45-59), or ''."""
    weak = [row for row in (figures.group("age", AGE_BRACKETS[-1]), figures.group("age", AGE_BRACKETS[0]))
            if row is not None and row.age_within_one is not None and figures.age_within_one is not None
            and row.age_within_one < figures.age_within_one - OUTER_BRACKET_GAP]
    if not weak:
        return ""
    held = " and ".join(f"{percent(row.age_within_one)} of the {row.clips} annotated {row.group}" for row in weak)
    who = " or ".join("an old" if row.group == AGE_BRACKETS[-1] else "a young" for row in weak)
    return f" The range held the annotated bracket of only {held} in validation: it may leave out {who} speaker's."


def confidence_statement(prediction: dict[str, Any], figures: ValidationFigures | None,
                         warnings: Sequence[str] = ()) -> list[str]:
    """Sentences stating how often estimates like this one were right in validation.

    `warnings` are the speaker's audio warnings: validation used clean single-speaker clips, so
    any warning means the measured figures overstate this estimate's reliability.
    """
    if not prediction:
        return ["No estimate was made for this speaker, so no confidence applies."]
    if figures is None:
        return ["No measured validation figures are available for this model: how often such estimates are right "
                "is unknown. Treat the estimate as unvalidated."]
    seconds = prediction.get("seconds_used")
    statements = []
    row = figures.for_seconds(seconds) if seconds is not None else None
    if row is None and seconds is not None and figures.by_seconds:
        statements.append(f"This speaker gave only {seconds:.1f} s of speech, less than the shortest duration "
                          f"validated ({figures.by_seconds[0].seconds:g} s): the figures below are for longer speech "
                          "and overstate the reliability of this estimate.")

    def measured(metric: str) -> tuple[float | None, str]:
        """The metric at the speaker's duration where measured, else on whole validation clips."""
        value = getattr(row, metric) if row is not None else None
        if value is not None:
            return value, f"hearing {row.heard} (this speaker: {seconds:.1f} s of speech)"
        return getattr(figures, metric), "on whole validation clips"

    protocol = f" ({figures.protocol})" if figures.protocol else ""
    gender = most_probable(prediction.get("gender", {}))
    if gender is not None:
        rate, basis = measured("gender_accuracy")
        text = (f"Gender: in validation{protocol}, {basis}, the most probable gender was the annotated one for "
                f"{percent(rate)} of clips.")
        named = figures.gender_named(gender[0])
        if named is not None:
            share = figures.group("gender", gender[0])  # (there: `gender_named` counted it)
            mix = f"{100 * share.clips / (figures.gender_clips or share.clips):.0f} % of them {gender[0]}"
            text += (f" On whole validation clips ({mix}; the figure moves with that mix), of the {named[1]} it named "
                     f"{gender[0]}, {percent(named[0])} were annotated {gender[0]}, whatever the probability given.")
        text += f" For this speaker it gives {gender[0]} a probability of {probability_text(gender[1])}."
        if figures.gender_ece is not None:
            text += (f" On whole validation clips its gender probabilities were calibrated to within "
                     f"{figures.gender_ece:.3f} on average (expected calibration error): clips given a probability "
                     "like this one were right about that often.")
        else:
            text += " How well its probabilities are calibrated was not measured."
        statements.append(text)
    age = estimated_age(prediction)
    if age is not None:
        exact, exact_basis = measured("age_exact")
        within, within_basis = measured("age_within_one")
        if exact_basis == within_basis:
            text = (f"Age bracket: {exact_basis}, the estimated bracket was exactly right for {percent(exact)} "
                    f"of clips and right or one bracket off for {percent(within)}.")
        else:
            text = (f"Age bracket: {within_basis}, the estimated bracket was right or one bracket off for "
                    f"{percent(within)} of clips; {exact_basis}, it was exactly right for {percent(exact)}.")
        if figures.age_baseline is not None:
            bracket, base_exact, base_within = figures.age_baseline
            text += (f" Always answering {bracket}, the commonest bracket, scored {percent(base_exact)} exact and "
                     f"{percent(base_within)} within one on the same clips")
            little = figures.age_exact - base_exact < AGE_GAIN_EXACT and figures.age_within_one - base_within < AGE_GAIN_WITHIN
            text += ": the age estimate adds little to that, so treat it as a hint, never a finding." if little else "."
        within = prediction.get("age_estimate_within_one")
        top = most_probable(prediction.get("age", {}))
        if within is not None:
            text += (f" For this speaker the model gives the range {age_range(age[0])}, centred on {age[0]}, a "
                     f"probability of {probability_text(float(within))} (its own, calibrated)")
            text += f"; the most probable single bracket is {top[0]} ({probability_text(top[1])})." if top else "."
        given = [label for label, count in figures.age_estimates_given if count]
        never = [label for label, count in figures.age_estimates_given if not count]
        if given and never:
            text += (f" In validation the estimate was only ever centred on {' or '.join(given)}, never on "
                     f"{' or '.join(never)}")
            ends = {figures.age_estimates_given[0][0], figures.age_estimates_given[-1][0]}
            text += ": it does not single out a young or an old voice." if ends <= set(never) else "."
        text += _outer_brackets(figures)
        statements.append(text)
    recall = {figure.k: figure for figure in figures.retrieval}
    if recall:
        best = recall.get(10) or recall[max(recall)]
        pool = f"{figures.retrieval_pool_size} " if figures.retrieval_pool_size else ""
        rate = dict(row.recall).get(best.k) if row is not None else None
        basis = f"hearing {row.heard}" if rate is not None else "on whole validation clips"
        rate = best.rate if rate is None else rate
        group_mean = dict(figures.group_mean_recall).get(best.k)
        reference = (f"; the mean face of each clip's true gender and age bracket, made without hearing the voice, "
                     f"scored {percent(group_mean)}" if group_mean is not None else "")
        statements.append(f"Face: {basis}, the true canonical face was among the {best.k} closest of {pool}candidates "
                          f"for {percent(rate)} of validation clips, against {percent(best.chance)} by chance{reference}. "
                          "The face image conveys group-level traits (mainly gender and age), not an individual's "
                          "appearance.")
    if warnings:
        statements.append(f"These figures were measured on clean, wide-band clips of a single speaker. This speaker's "
                          f"audio raised {len(warnings)} warning{'s' if len(warnings) != 1 else ''} (listed above), so "
                          "the figures are likely to overstate the reliability of this estimate.")
    return statements
