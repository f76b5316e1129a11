# placeholder: filled by the estimator binding
