# fs2f — set-up, demo and tests. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYANNOTE_METRICS_ENABLED := 0
export HF_HUB_OFFLINE := 1
# FFmpeg 5 shared libraries (torchcodec decodes through them) and poppler-utils (pdftoppm, report checks).
SYSTEM_PACKAGES := libavcodec59 libavformat59 libavutil57 libswresample4 libavdevice59 libavfilter8 libswscale6 poppler-utils

.PHONY: install system-deps demo test clean-venv

install: $(STAMP)

system-deps:
	@if ldconfig -p | grep -q 'libavcodec.so.59' && command -v pdftoppm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing system packages: $(SYSTEM_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else echo "warning: install these Debian packages by hand: $(SYSTEM_PACKAGES)" >&2; fi

# torchaudio 2.11.0 ships CUDA-linked libraries that break `import torchaudio` on CPU torch;
# without them its pure-Python fallback works, hence the rm after installing.
$(STAMP): requirements.lock pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade 'pip==26.3' 'setuptools==80.10.2' 'wheel==0.48.0'
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	rm -f $(VENV)/lib/python3*/site-packages/torchaudio/lib/*.so
	touch $(STAMP)

demo: install
	bash scripts/demo.sh

test: install
	$(PY) -m pytest -q

clean-venv:
	rm -rf $(VENV)
