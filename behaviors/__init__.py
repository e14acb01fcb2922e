"""Turning stored games into training data, data checks and fine-tuning."""
