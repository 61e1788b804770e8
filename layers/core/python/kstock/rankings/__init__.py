"""Rankings: companies by market cap, industries by total market cap and average change (PRD 2.1.6)."""
