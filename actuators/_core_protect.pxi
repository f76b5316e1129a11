# placeholder: filled by the protect binding
