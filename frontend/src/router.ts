import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import type { EventView } from './event/eventViews'
import EventHome from './views/EventHome.vue'
import EventLayout from './views/EventLayout.vue'
import NotFound from './views/NotFound.vue'
import PanelView from './views/PanelView.vue'

declare module 'vue-router' {
  interface RouteMeta {
    view?: EventView
  }
}

function reserved(view: EventView): RouteRecordRaw {
  return { path: view, name: view, component: PanelView, props: { view }, meta: { view } }
}

export const routes: RouteRecordRaw[] = [
  {
    path: '/e/:slug/',
    component: EventLayout,
    children: [
      { path: '', name: 'event-home', component: EventHome },
      reserved('stage'),
      reserved('moderator'),
      reserved('speaker'),
      reserved('staff'),
      reserved('screen'),
    ],
  },
  { path: '/:unknown(.*)*', name: 'not-found', component: NotFound },
]

export function createAppRouter() {
  // The app's own URLs live at the site root (/e/<slug>/…); only its assets sit under
  // /static/app/, so the history base is "/", not import.meta.env.BASE_URL.
  return createRouter({ history: createWebHistory('/'), routes })
}
