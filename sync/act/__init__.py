"""Appointments, contacts and tasks kept in sync with Exchange (spec §2.14): the pure rules first."""
