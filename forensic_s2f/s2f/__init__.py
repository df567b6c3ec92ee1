"""Speech2Face stage: voice encoder, ensemble heads, canonical-face decoder, attributes."""
