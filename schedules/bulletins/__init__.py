"""Bulletins from the province and district down to communes, and reports up (issue 16)."""
