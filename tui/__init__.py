"""The Textual app: spectate games live, browse runs, play as the user."""
