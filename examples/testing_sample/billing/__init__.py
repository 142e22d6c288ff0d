"""The billing service of the svcauth testing sample: invoices behind svcauth."""
