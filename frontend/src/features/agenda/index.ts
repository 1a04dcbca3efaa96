import type { Feature } from '../registry'
import AgendaControl from './AgendaControl.vue'
import LiveNotice from './LiveNotice.vue'

/** Schedule-driven transitions: the moderator's agenda console and the attendees' notices. */
const agenda: Feature = {
  name: 'agenda',
  panels: [
    { id: 'agenda.control', view: 'moderator', area: 'main', order: 1, component: AgendaControl },
    { id: 'agenda.notice-home', view: 'home', area: 'main', order: 0, component: LiveNotice },
    { id: 'agenda.notice-stage', view: 'stage', area: 'side', order: 0, component: LiveNotice },
  ],
  setup(client) {
    client.followStream('transitions', 'agenda.plan', 'full')
  },
}

export default agenda
