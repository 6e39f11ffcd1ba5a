import { ref } from 'vue'

/** Whether the shortcut help dialog is open (one dialog, in the app shell). */
export const showHelp = ref(false)
