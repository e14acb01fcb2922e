"""The game engine: rules, referee, the LangGraph game, tournaments, the store and the CLI."""
