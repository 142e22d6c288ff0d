"""A tiny notification service protected by svcauth (Django + Django REST framework)."""
