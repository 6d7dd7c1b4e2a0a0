"""What every view shares: background jobs, settings, theme, widget builders, the model registry and picker."""
