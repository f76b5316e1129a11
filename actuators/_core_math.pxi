# placeholder: filled by the math binding
