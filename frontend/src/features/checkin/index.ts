import type { Feature } from '../registry'
import CheckinDesk from './CheckinDesk.vue'

const checkin: Feature = {
  name: 'checkin',
  panels: [{ id: 'checkin.desk', view: 'staff', area: 'main', order: 0, component: CheckinDesk }],
}

export default checkin
