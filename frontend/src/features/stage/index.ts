import type { Feature } from '../registry'
import ModeratorStage from './ModeratorStage.vue'
import SpeakerStage from './SpeakerStage.vue'
import StagePlayer from './StagePlayer.vue'
import { setupStage } from './stageState'

const stage: Feature = {
  name: 'stage',
  panels: [
    { id: 'stage.player', view: 'stage', area: 'main', order: 0, component: StagePlayer },
    { id: 'stage.speaker', view: 'speaker', area: 'main', order: 0, component: SpeakerStage },
    { id: 'stage.moderator', view: 'moderator', area: 'main', order: 10, component: ModeratorStage },
  ],
  setup: setupStage,
}

export default stage
