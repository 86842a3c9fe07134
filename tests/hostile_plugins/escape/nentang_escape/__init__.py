"""escape: hostile sample — writes outside its scratch folder (into its own installed code)."""
