import { ref } from 'vue'
import { useExplain } from './useExplain'

/**
 * A form's sending state: `busy` while the request runs, `refusal` the api's answer in the user's
 * language when it refuses. `run` resolves to whether it succeeded; the form's fields are never touched.
 */
export function useSubmit() {
  const explain = useExplain()
  const busy = ref(false)
  const refusal = ref<string | null>(null)
  async function run(work: () => Promise<unknown>): Promise<boolean> {
    busy.value = true
    refusal.value = null
    try {
      await work()
      return true
    } catch (e) {
      refusal.value = explain(e)
      return false
    } finally {
      busy.value = false
    }
  }
  return { busy, refusal, run }
}
