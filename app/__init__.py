"""Hearth: private desktop chat with local language models."""
