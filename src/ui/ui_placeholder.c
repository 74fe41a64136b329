/* PLACEHOLDER so the ui library has a source until the ui lands. */
int ui_placeholder;
