"""Privacy rules applied to stored text: removing a visitor's contact details from what was kept."""
