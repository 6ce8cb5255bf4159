"""Storage backends. ``base`` holds the contract; ``sqlite`` is the embedded default."""
