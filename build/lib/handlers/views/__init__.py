"""Views: domain objects in, what a person sees out (text, buttons, files).

Pure functions with no ``Update`` and no database session: handlers, wizards and the delivery
worker render through them alike, so a preview cannot drift from what is sent.
"""
