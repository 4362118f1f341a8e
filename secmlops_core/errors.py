"""Errors whose message is meant for the person at the keyboard or the screen."""


class UserFacingError(Exception):
    """An expected failure (bad input, refused action) with a clear, complete message."""


class ValidationFailed(UserFacingError):
    """Input failed validation; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str], subject: str = "input"):
        self.problems = list(problems)
        self.subject = subject
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        lines = "\n".join(f"- {p}" for p in shown)
        if more > 0:
            lines += f"\n- ... and {more} more problems"
        super().__init__(f"{subject} is invalid ({len(self.problems)} problem(s)):\n{lines}")
