# placeholder: filled by the outer binding
