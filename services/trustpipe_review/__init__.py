"""The review API (issue 36): an enterprise's reviewers list, search and judge its mail."""
