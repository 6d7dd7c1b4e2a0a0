"""The Train tab: settings, the child-process training job, live plots, samples, gradient flow, checkpoints."""
