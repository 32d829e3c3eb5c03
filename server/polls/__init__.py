"""Polls, quizzes and the survey: the adapters around the pure `polls/` package (commit, then publish)."""
