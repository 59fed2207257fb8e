"""Input and output shapes of a qualification."""
