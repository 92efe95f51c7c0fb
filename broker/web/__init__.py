"""Blueprints: the SAML endpoints, the user's pages, the development simulator."""
