"""From ranked passages to what callers show: verbatim answers with duplicates folded (`answers`), the compact
excerpt around the bold sentence (`excerpts`), links to the passage (`links`), and the result types (`results`)."""
