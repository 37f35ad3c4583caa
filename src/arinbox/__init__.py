"""arinbox."""
