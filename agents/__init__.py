"""Model backends and the players of the Make Me Say game."""
