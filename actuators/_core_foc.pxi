# placeholder: filled by the foc binding
