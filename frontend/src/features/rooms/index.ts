import type { Feature } from '../registry'
import ModeratorConsole from './ModeratorConsole.vue'
import RoomPanel from './RoomPanel.vue'
import { follow } from './store'

const rooms: Feature = {
  name: 'rooms',
  panels: [
    // Above the stage: while someone is in a breakout, the room is what they look at.
    { id: 'rooms.room', view: 'stage', area: 'main', order: -10, component: RoomPanel },
    { id: 'rooms.console', view: 'moderator', area: 'main', order: 10, component: ModeratorConsole },
    // A moderator visiting a room talks there from the console page.
    { id: 'rooms.visit', view: 'moderator', area: 'main', order: 0, component: RoomPanel },
  ],
  setup: follow,
}

export default rooms
