import { onBeforeUnmount, onMounted } from 'vue'
import { commandFor, type Command, type Scope } from './shortcuts'
import { showHelp } from './help'

/** Binds the table's keys of `scope` on this page; `?` opens the help everywhere. */
export function useShortcuts(scope: Scope, handlers: Partial<Record<Command, () => void>>) {
  const listener = (e: KeyboardEvent) => {
    const command = commandFor(e, scope)
    if (!command) return
    if (command === 'help') {
      showHelp.value = true
    } else {
      const handler = handlers[command]
      if (!handler) return
      handler()
    }
    e.preventDefault()
  }
  onMounted(() => window.addEventListener('keydown', listener))
  onBeforeUnmount(() => window.removeEventListener('keydown', listener))
}
