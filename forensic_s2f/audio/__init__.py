"""Audio stage: decode any common format to 16 kHz mono float, measure quality, denoise."""
