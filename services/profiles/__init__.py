"""Product profiles: temperature limits, alarm delays and viability budgets per product."""
