"""The Text tab: prompt a character language model."""
