"""Errors raised at actor start-up: one sentence naming the problem and the fix."""


class EnvironmentSetupError(ValueError):
    """The environment id, its ROMs, or its observation/action spaces cannot be used."""
