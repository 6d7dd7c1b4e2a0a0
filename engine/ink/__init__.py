"""Digital ink: data model, importers (IAM-OnDB, InkML), synthetic corpus, datasets. No torch."""
