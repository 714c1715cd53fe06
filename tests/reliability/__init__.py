"""The fault matrix: each test injects one fault and asserts the outcome and that nothing was lost or duplicated."""
