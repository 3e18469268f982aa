"""Gold: business marts for forecasting, BI and dashboards."""
