"""Data: text corpora, the ink data model, ink formats and importers (InkML, IAM-OnDB), cleaning,
ink datasets on disk, the synthetic handwriting corpus and SVG rendering. numpy only, no torch."""
