# placeholder: filled by the ctrl binding
