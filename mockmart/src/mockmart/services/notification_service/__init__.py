"""notification-service: order and reminder e-mails for allowed services (see ``app``)."""
