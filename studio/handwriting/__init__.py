"""The Handwriting tab: the drawing canvas, the prime taken from it, the page the model writes on, saving."""
