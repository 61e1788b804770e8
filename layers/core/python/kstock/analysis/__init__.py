"""AI outlook for companies and industries (issue 16): grounded input, Gemini or rules, stored per KST day.

See :mod:`kstock.analysis.service`.
"""
