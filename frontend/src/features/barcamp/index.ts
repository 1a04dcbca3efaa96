import type { Feature } from '../registry'
import BarcampPlenum from './BarcampPlenum.vue'
import GridEditor from './GridEditor.vue'
import VoteScreen from './VoteScreen.vue'
import { setupBarcamp } from './store'

const barcamp: Feature = {
  name: 'barcamp',
  panels: [
    { id: 'barcamp.plenum', view: 'home', area: 'main', order: 20, component: BarcampPlenum },
    { id: 'barcamp.screen', view: 'screen', area: 'main', order: 10, component: VoteScreen },
    { id: 'barcamp.grid', view: 'moderator', area: 'main', order: 30, component: GridEditor },
  ],
  setup: setupBarcamp,
}

export default barcamp
