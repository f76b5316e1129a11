# placeholder: filled by the pi binding
