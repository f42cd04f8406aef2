"""The model's image rules: the checks a first frame must pass, its encoding, and its fixes."""
